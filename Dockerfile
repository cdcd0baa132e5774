# Production image: the same install as `make install`, served by gunicorn.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liveradvance ./liveradvance
COPY trials ./trials
COPY crf ./crf
COPY randomization ./randomization
COPY scoring ./scoring
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput
RUN useradd --system --uid 1000 edc && chown -R edc /app
USER edc
EXPOSE 8000
CMD ["gunicorn", "liveradvance.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
