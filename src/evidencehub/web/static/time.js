/* Shows every <time datetime="…Z"> in the viewer's time zone (the server renders UTC). */
(function () {
  "use strict";
  var dateTime = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  function localize(root) {
    var nodes = (root || document).querySelectorAll("time[datetime]:not([data-local])");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when.getTime())) continue;
      node.title = node.textContent;  // the UTC time stays available as a tooltip
      node.textContent = dateTime.format(when);
      node.setAttribute("data-local", "");
    }
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localize(event.target); });
})();
