# The saliency dashboard.
#   docker build -t saliency .                                              # CPU
#   docker build -t saliency --build-arg REQUIREMENTS=requirements-gpu.txt .  # NVIDIA GPU: TensorFlow's
#        [and-cuda] extra brings the CUDA libraries as wheels; the host needs only the NVIDIA driver and
#        the container toolkit (docker run --gpus all ...)
#   docker build -t saliency --build-arg REQUIREMENTS=requirements-extra.txt .  # + the optional SHAP method
#   docker build -t saliency --build-arg FETCH_WEIGHTS=1 .                  # ImageNet weights baked in
# Without ImageNet weights the page opens on the offline Shapes demo, whose weights ship with the code.
# Runs gunicorn (gthread workers, see gunicorn.conf.py); the same image runs a Celery worker with
#   docker run ... saliency celery -A service.worker worker --concurrency 1 --prefetch-multiplier 1 -Q saliency
FROM python:3.11-slim

ARG REQUIREMENTS=requirements.txt
ARG FETCH_WEIGHTS=0

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/app KERAS_HOME=/home/app/.keras EXPLAINERS_DATA_DIR=/home/app/data \
    HOST=0.0.0.0 PORT=8050

# DejaVu: the downloaded PNGs' titles and colour-bar words (arrows, dashes) need a font with those glyphs
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home --uid 1000 app
WORKDIR /app
COPY requirements*.txt ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r "$REQUIREMENTS"
ENV PATH=/opt/venv/bin:$PATH

COPY --chown=app:app . .
USER app
RUN mkdir -p "$EXPLAINERS_DATA_DIR" \
    && if [ "$FETCH_WEIGHTS" = "1" ]; then python -m explainers fetch-weights; fi

EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8050\")}/healthz', timeout=4)"
CMD ["gunicorn", "--config", "gunicorn.conf.py", "app:server"]
