# The saliency dashboard. CPU by default; for an NVIDIA GPU build with --build-arg REQUIREMENTS=requirements-gpu.txt
# Optional: --build-arg FETCH_WEIGHTS=1 downloads the ImageNet weights into the image at build time.
FROM python:3.11-slim

ARG REQUIREMENTS=requirements.txt
ARG FETCH_WEIGHTS=0

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 KERAS_HOME=/home/app/.keras HOST=0.0.0.0 PORT=8050

RUN useradd --create-home --uid 1000 app
WORKDIR /app
COPY requirements*.txt ./
RUN pip install -r "$REQUIREMENTS"
COPY --chown=app:app . .
USER app
RUN if [ "$FETCH_WEIGHTS" = "1" ]; then python -m explainers fetch-weights; fi

EXPOSE 8050
CMD ["python", "app.py"]
