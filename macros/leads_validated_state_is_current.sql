{#-
    int_leads_validated may be carried forward when every raw lead row it validated is still there (see
    validated_rows_still_loaded; a full load replaces them, and the table is then rebuilt). An empty table is
    rebuilt too.
-#}
{% macro leads_validated_state_is_current() %}
    {% set sql %}
        select
            (select count(*) from {{ this }}) > 0
            and {{ validated_rows_still_loaded(ref('stg_raw__leads')) }} as is_current
    {% endset %}
    {% set result = run_query(sql) %}
    {{ return(result.columns[0].values()[0] == true) }}
{% endmacro %}
