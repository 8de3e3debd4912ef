{#-
    Spark has no `varchar` without a length, no `text` and no `double precision`. The seeds' column_types
    (dbt_project.yml) and the marts' contracts declare the type names DuckDB and PostgreSQL share; on Spark,
    spark_data_type() translates them where dbt-spark 1.11 turns a declared type into SQL: the contract's
    empty-schema query (dbt compares its column types with the model's) and the seed table's DDL and
    inserts. These three macros are dbt-spark 1.11's own with that change (and escaped seed values, below).
-#}
{% macro spark_data_type(data_type) -%}
    {%- set name = data_type | trim | lower -%}
    {%- if name in ('varchar', 'text', 'character varying') -%}
        string
    {%- elif name in ('double precision', 'float8') -%}
        double
    {%- else -%}
        {{ data_type }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__get_empty_schema_sql(columns) %}
    {%- set col_err = [] -%}
    select
    {% for i in columns %}
        {%- set col = columns[i] -%}
        {%- if col['data_type'] is not defined -%}
            {%- do col_err.append(col['name']) -%}
        {%- endif -%}
        {% set col_name = adapter.quote(col['name']) if col.get('quote') else col['name'] %}
        cast(null as {{ spark_data_type(col['data_type']) }}) as {{ col_name }}{{ ", " if not loop.last }}
    {%- endfor -%}
    {%- if (col_err | length) > 0 -%}
        {{ exceptions.column_type_missing(column_names=col_err) }}
    {%- endif -%}
{% endmacro %}

{% macro spark__create_csv_table(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}

    {% set sql %}
        create table {{ this.render() }} (
            {%- for col_name in agate_table.column_names -%}
                {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                {%- set type = spark_data_type(column_override.get(col_name, inferred_type)) -%}
                {%- set column_name = (col_name | string) -%}
                {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
            {%- endfor -%}
        )
        {{ file_format_clause() }}
        {{ partition_cols(label="partitioned by") }}
        {{ clustered_cols(label="clustered by") }}
        {{ location_clause() }}
        {{ comment_clause() }}
    {% endset %}

    {% call statement('_') -%}
        {{ sql }}
    {%- endcall %}

    {{ return(sql) }}
{% endmacro %}

{#-
    Also different from dbt-spark: values are written as escaped literals, not bound. The session method binds
    by formatting each value as '<value>' without escaping (a quote in a description breaks the insert) and
    an empty cell as the text 'None' (not null).
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set batch_size = get_batch_size() %}
    {% set column_override = model['config'].get('column_types', {}) %}

    {% set statements = [] %}

    {% for chunk in agate_table.rows | batch(batch_size) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = spark_data_type(column_override.get(col_name, inferred_type)) -%}
                    cast({{ spark_seed_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %},{%- endif %}
                {%- endfor -%})
                {%- if not loop.last %},{%- endif %}
            {%- endfor %}
        {% endset %}

        {% do adapter.add_query(sql, abridge_sql_log=True) %}

        {% if loop.index0 == 0 %}
            {% do statements.append(sql) %}
        {% endif %}
    {% endfor %}

    {{ return(statements[0]) }}
{% endmacro %}

{#- A seed value as a Spark SQL literal: null, or the text quoted with backslash escapes. -#}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- else -%}
        '{{ (value | string) | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
