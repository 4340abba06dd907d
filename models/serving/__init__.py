"""Serving at scale: registry versions published to SageMaker (`encore aws sync --models`).

`sagemaker.py` imports boto3 only when it builds its own clients.
"""
