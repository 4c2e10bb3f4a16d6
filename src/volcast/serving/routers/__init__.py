"""One router per resource: health, predictions, models, feedback, admin, metrics."""
