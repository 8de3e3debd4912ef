{#-
    Overrides dbt's should_full_refresh (which is_incremental() and the incremental materialization both call)
    so that an incremental model can refuse to carry its state forward. A model names, in
    meta.state_check, a macro that says whether the rows it holds are still valid for this run (same inputs
    already processed, same point tables, as-of date not moved back); when they are not, the model is rebuilt
    in full, exactly as with --full-refresh. Models without meta.state_check behave as in dbt.
-#}
{% macro should_full_refresh() %}
    {% set config_full_refresh = config.get('full_refresh') %}
    {% if config_full_refresh is none %}
        {% set config_full_refresh = flags.FULL_REFRESH %}
    {% endif %}
    {% set state_check = (config.get('meta') or {}).get('state_check') %}
    {% if config_full_refresh %}
        {% if state_check %}
            {{ log(model.name ~ ': full rebuild (--full-refresh)', info=true) }}
        {% endif %}
        {{ return(true) }}
    {% endif %}
    {% if state_check and execute %}
        {{ return(not incremental_state_is_current(state_check)) }}
    {% endif %}
    {{ return(false) }}
{% endmacro %}
