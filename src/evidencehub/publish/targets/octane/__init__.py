"""ALM Octane target: XML converter, REST client, application modules, backlog coverage."""
