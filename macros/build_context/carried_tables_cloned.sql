{#-
    On-run-start of a Spark build that writes the served schemas under a suffix (vars staged_schemas,
    staged_schema_suffix; orchestration/build/engine_publishing.py): copy each incremental model of the schemas in
    var carried_schemas (the score history, the CRM change log) from its served name into the build's
    suffixed database, with the model's partitioning, so the build appends to what was published. Done here,
    inside dbt's process, because Spark's embedded metastore admits one process at a time. Renders nothing
    (PostgreSQL clones in Python, in the transaction that creates its staged schemas; DuckDB needs nothing).
-#}
{% macro carried_tables_cloned() -%}
    {%- if execute and target.type == 'spark' and var('staged_schema_suffix', '') -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model'
            and node.config.materialized == 'incremental'
            and node.config.schema in var('carried_schemas', []) -%}
            {%- set served = adapter.get_relation(database=none, schema=node.config.schema, identifier=node.alias) -%}
            {%- if served is not none -%}
                {%- set partitions = node.config.partition_by -%}
                {%- set partitions = [partitions] if partitions is string else partitions -%}
                {%- do run_query('create database if not exists ' ~ node.schema) -%}
                {%- do run_query('drop table if exists ' ~ node.schema ~ '.' ~ node.alias) -%}
                {%- do run_query(
                    'create table ' ~ node.schema ~ '.' ~ node.alias ~ ' using parquet'
                    ~ (' partitioned by (' ~ partitions | join(', ') ~ ')' if partitions else '')
                    ~ ' as select * from ' ~ served
                ) -%}
                {#- dbt listed the build's databases before this hook: tell its cache the table exists, so the
                    model appends to it (is_incremental) instead of creating it. -#}
                {%- do adapter.cache_added(
                    api.Relation.create(schema=node.schema, identifier=node.alias, type='table')
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
