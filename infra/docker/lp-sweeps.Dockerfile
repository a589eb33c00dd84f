# Image for the Ray head and worker pods of infra/kubernetes/ (Ray 2.60, Python 3.11, CUDA):
# lp_sweeps installed from this checkout, which also stays at /opt/lp-sweeps (search_spaces/).
#
#   docker build -f infra/docker/lp-sweeps.Dockerfile -t registry.example.org/lab/lp-sweeps:0.1.0 .
#   docker run --rm registry.example.org/lab/lp-sweeps:0.1.0 lp-sweep --help
#   docker push registry.example.org/lab/lp-sweeps:0.1.0
ARG RAY_IMAGE=rayproject/ray:2.60.0-py311-gpu
FROM ${RAY_IMAGE}

USER root
COPY . /opt/lp-sweeps
RUN chown -R ray:users /opt/lp-sweeps
USER ray
WORKDIR /opt/lp-sweeps
# psycopg2-binary/boto3 only matter if a driver talks to PostgreSQL or S3 directly; harmless otherwise.
RUN pip install --no-cache-dir . psycopg2-binary boto3
