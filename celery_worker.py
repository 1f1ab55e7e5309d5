"""Entry point of the Celery worker and beat: ``celery -A celery_worker worker``.

Builds the Flask app (configured from the environment) and exposes its Celery app.
"""

from learning import create_app
from learning.observability import register_task_metrics

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
register_task_metrics()
