"""Release promotions: the request, the evidence job on the task queue, its bundle, cancel and delink."""
