"""Serving at scale: registry champions published to SageMaker and forecasts served from there.

    sagemaker.py   publish champions as model packages and Models (`encore aws sync --models`)
    bundle.py      the code/ folder a served model carries; inference.py is its handler
    endpoint.py    EndpointConfig + Endpoint for the forecaster (`encore aws endpoint deploy`)
    predictor.py   the seam: local champion or SageMaker endpoint, by ENCORE_PREDICTOR
    runtime.py     InvokeEndpoint with timeouts and retries

Nothing here imports boto3 until it builds a client.
"""
