"""AWS adapters beside the embedded defaults, driven by `encore aws sync` (DESIGN §3).

    glue.py       the curated lake datasets (data_catalog) as Glue databases, tables, partitions
    redshift.py   curated Parquet into Redshift: COPY into staging, then merge
    commands.py   the `encore aws sync` Typer app

Lake Formation grants live beside the query policy (tools/query/lakeformation.py) and SageMaker
publishing beside the model registry (models/serving/sagemaker.py). boto3 is imported only when
an adapter builds its own client.
"""
