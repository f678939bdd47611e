"""gunicorn settings for `make serve` (see README, "Running in production").

The web workers do not tick (SCHEDULER_ENABLED=0 is set by `make serve`): one `flask --app wsgi
ticker` process per server does, so a worker that gunicorn recycles or kills on a timeout never
interrupts the escalation clock, and a second server's ticker is a hot standby (each step and
message goes out exactly once however many tickers run)."""
import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = None  # the app writes one structured line per request, with its request id
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def child_exit(server, worker):
    """Prometheus multiprocess mode: a dead worker's latency files are merged, not lost."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(worker.pid)
