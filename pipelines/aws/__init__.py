"""AWS adapters beside the embedded defaults, driven by `encore aws sync` and `encore aws etl`
(DESIGN §3).

    glue.py       the curated lake datasets (data_catalog) as Glue databases, tables, partitions
    redshift.py   the warehouse's changed key buckets and Glue's curated Parquet into Redshift:
                  COPY into staging, then replace or merge, one transaction each
    redshift_plan.py  each table's load plan: its DDL, staging, COPY and merge SQL (sqlglot)
    redshift_lock.py  one sync at a time per schema: a lease row taken under LOCK TABLE
    buckets.py    which key buckets of a warehouse table changed since the last sync
    redshift_exec.py  statements through the Redshift Data API or a DB-API connection
    spark.py      the DuckDB transforms (aliases, normalisers, validation) transpiled to Spark SQL
    glue_job.py   the Glue job's entrypoint: one raw partition -> curated Parquet + quarantine
    glue_etl.py   deploys that job (script, code zip, scheduled trigger), runs and follows it
    commands.py   the `encore aws sync` and `encore aws etl` Typer apps

Lake Formation grants live beside the query policy (tools/query/lakeformation.py) and SageMaker
publishing beside the model registry (models/serving/sagemaker.py). boto3 is imported only when
an adapter builds its own client.
"""
