{#-
    int_leads_validated may be carried forward when every raw lead row it validated is still there (see
    validated_rows_still_loaded; a full load replaces them, and the table is then rebuilt) and its rows were
    validated against the country names of seed country_names as they are now. An empty table, or one made
    before the table had country_names_key, is rebuilt too.
-#}
{% macro leads_validated_state_is_current() %}
    {% set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list %}
    {% if 'country_names_key' not in columns %}
        {{ return(false) }}
    {% endif %}
    {% set sql %}
        select
            (select count(*) from {{ this }}) > 0
            and {{ validated_rows_still_loaded(ref('stg_raw__leads')) }}
            and (select count(distinct country_names_key) from {{ this }}) = 1
            and (select min(country_names_key) from {{ this }}) = {{ country_names_key() }} as is_current
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}
