{#-
    A per-build parameter (as_of, build_id, scoring_version): var(name) when given (`dbt --vars`, a unit
    test's overrides), else, while executing, the environment variable LEADSCORE_BUILD_<NAME> (how
    `leadscore build` and Dagster pass them), else default. The environment is read only while executing, so
    a value that changes every build never invalidates dbt's partial parsing (new --vars force a full re-parse
    of the project, about 10 s).
    Arguments: name (the parameter), default (when neither is set).
-#}
{% macro build_parameter(name, default='') -%}
    {%- set value = var(name, '') -%}
    {%- if (value is none or value | string == '') and execute -%}
        {%- set value = env_var('LEADSCORE_BUILD_' ~ name | upper, '') -%}
    {%- endif -%}
    {{- return(default if value is none or value | string == '' else value | string) -}}
{%- endmacro %}
