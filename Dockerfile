# The avsteg worker. LibreOffice is left out on purpose (300 MB); legacy .doc/.xls are then
# answered with a request to send .docx/.xlsx instead of being converted.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY avsteg ./avsteg
RUN pip install --no-cache-dir . && useradd --system --home /app avsteg
USER avsteg
STOPSIGNAL SIGTERM
CMD ["avsteg", "run"]
