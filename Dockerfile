# The avsteg worker and web app. LibreOffice is left out on purpose (300 MB); legacy .doc/.xls
# are then answered with a request to send .docx/.xlsx instead of being converted.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# Dependencies first, exactly as locked (with hashes), so a rebuild after a code change reuses
# this layer and two builds of one commit install the same versions. Refresh: docs/drift.md.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY avsteg ./avsteg
RUN pip install --no-cache-dir --no-deps . \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin avsteg \
    && install -d -o avsteg -g avsteg /data
USER avsteg
STOPSIGNAL SIGTERM
CMD ["avsteg", "run"]
