{#-
    Functions some engines need before the models run (called by on-run-start in dbt_project.yml).

    PostgreSQL has no try_cast: leadscore_parse_timestamp(text) and leadscore_try_json(text) parse inside an
    exception block and return null when the text does not parse. They live in the target schema and run
    with TimeZone UTC, so text without an offset is UTC whatever the session's time zone. DuckDB and Spark
    need nothing (empty hook).
-#}
{% macro create_engine_functions() -%}
    {{ return(adapter.dispatch('create_engine_functions', 'leadscore')()) }}
{%- endmacro %}

{% macro default__create_engine_functions() -%}
{%- endmacro %}

{% macro postgres__create_engine_functions() -%}
    create schema if not exists {{ adapter.quote(target.schema) }};

    create or replace function {{ engine_function('leadscore_parse_timestamp') }}(value text)
    returns timestamp without time zone
    language plpgsql immutable strict parallel safe
    set timezone to 'UTC'
    as $function$
    begin
        if value !~ '{{ iso_timestamp_pattern() }}' then
            return null;
        end if;
        return cast(cast(value as timestamp with time zone) as timestamp without time zone);
    exception when others then
        return null;
    end;
    $function$;

    create or replace function {{ engine_function('leadscore_try_json') }}(value text)
    returns json
    language plpgsql immutable strict parallel safe
    as $function$
    begin
        return cast(value as json);
    exception when others then
        return null;
    end;
    $function$;
{%- endmacro %}

{#- The qualified name of a function created by create_engine_functions. -#}
{% macro engine_function(name) -%}
    {{ adapter.quote(target.schema) }}.{{ name }}
{%- endmacro %}
