FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml ./
COPY hygiene ./hygiene
COPY incidents ./incidents
RUN pip install .
COPY . .
RUN DEBUG=0 SECRET_KEY=collectstatic-only LEAKLINE_FINGERPRINT_KEY=collectstatic-only \
    python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 leakline && mkdir -p /spool && chown leakline /spool
USER leakline
EXPOSE 8000
CMD ["gunicorn", "hygiene.wsgi:application", "--config", "hygiene/gunicorn.conf.py"]
