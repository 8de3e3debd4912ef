{#-
    Overrides dbt's get_where_subquery (the `where` config of data tests) with one addition: `where:
    "latest:<column>"` tests only the rows whose <column> holds its latest value, such as the rows of the last
    load (`latest:_loaded_at`) or of the last incremental batch (`latest:validated_at`). The lineage keys
    tested that way contain the load time, so rows of different loads can never share a key and the latest
    batch is the only place a duplicate can appear; a full build has one batch, so it is tested whole.
    Any other `where` works as in dbt.
-#}
{% macro get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where and where.startswith('latest:') %}
        {% set column = where[7:] %}
        {% do return(
            '(select * from ' ~ relation ~ ' where ' ~ column ~ ' = (select max(' ~ column ~ ') from '
            ~ relation ~ ')) dbt_subquery'
        ) %}
    {% elif where %}
        {% do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') %}
    {% else %}
        {% do return(relation) %}
    {% endif %}
{%- endmacro %}
