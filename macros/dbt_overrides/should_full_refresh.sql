{#-
    Overrides dbt's should_full_refresh (which is_incremental() and the incremental materialization both call)
    so that an incremental model can refuse to carry its state forward. A model declares its state in
    meta.state (state_columns writes it, docs/incremental-refresh.md); when that state no longer holds for this
    run (incremental_state_is_current), the model is rebuilt in full, exactly as with --full-refresh. Models without meta.state behave as in dbt.
-#}
{% macro should_full_refresh() %}
    {% set config_full_refresh = config.get('full_refresh') %}
    {% if config_full_refresh is none %}
        {% set config_full_refresh = flags.FULL_REFRESH %}
    {% endif %}
    {% set state = (config.get('meta') or {}).get('state') %}
    {% if config_full_refresh %}
        {% if state %}
            {{ log(model.name ~ ': full rebuild (--full-refresh)', info=true) }}
        {% endif %}
        {{ return(true) }}
    {% endif %}
    {% if state and execute %}
        {{ return(not incremental_state_is_current(state)) }}
    {% endif %}
    {{ return(false) }}
{% endmacro %}
