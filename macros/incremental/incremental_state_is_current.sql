{#-
    Whether the current model's table may be carried forward: it exists, the engine can update it in place
    (not Spark, whose Parquet tables have no delete: there every build is a full one), and the model's own
    check (the macro named check_macro) passes. Logs "<model>: incremental refresh" or "<model>: full rebuild"
    (`leadscore build` reports it). The answer is cached per model for the run, so the model's SQL and the
    materialization, which both ask, always agree.
    Arguments: check_macro (name of a macro returning true when the state is still valid).
-#}
{% macro incremental_state_is_current(check_macro) %}
    {% set cache = graph.setdefault('_leadscore_state_cache', {}) %}
    {% if model.unique_id in cache %}
        {{ return(cache[model.unique_id]) }}
    {% endif %}
    {% set existing = adapter.get_relation(this.database, this.schema, this.identifier) %}
    {% if target.type == 'spark' %}
        {% set is_current, why = false, 'the engine rebuilds its tables' %}
    {% elif existing is none or existing.type != 'table' %}
        {% set is_current, why = false, 'no table yet' %}
    {% elif context[check_macro]() %}
        {% set is_current, why = true, 'new data only' %}
    {% else %}
        {% set is_current, why = false, 'its inputs changed' %}
    {% endif %}
    {% do cache.update({model.unique_id: is_current}) %}
    {{ log(model.name ~ ': ' ~ ('incremental refresh' if is_current else 'full rebuild') ~ ' (' ~ why ~ ')', info=true) }}
    {{ return(is_current) }}
{% endmacro %}
