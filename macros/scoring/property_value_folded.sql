{#-
    A property value as rules compare it: Unicode NFC (where the engine has it: not Spark), every run of
    whitespace (no-break spaces included) as one space, trimmed, lower case; null when nothing is left. A rule's
    value goes through the same macro, so an export with stray spaces, mixed case or decomposed accents still
    matches. (PostgreSQL lowers non-ASCII letters only under a locale that knows them.)
-#}
{% macro property_value_folded(expression) -%}
    {{ return(adapter.dispatch('property_value_folded', 'leadscore')(expression)) }}
{%- endmacro %}

{% macro default__property_value_folded(expression) -%}
    nullif(lower(trim(regexp_replace(nfc_normalize({{ expression }}), '[\s\pZ]+', ' ', 'g'))), '')
{%- endmacro %}

{% macro postgres__property_value_folded(expression) -%}
    nullif(lower(trim(regexp_replace(normalize({{ expression }}, NFC), '[[:space:]\u00a0\u2000-\u200b\u202f\u205f\u3000]+', ' ', 'g'))), '')
{%- endmacro %}

{% macro spark__property_value_folded(expression) -%}
    nullif(lower(trim(regexp_replace({{ expression }}, '[\\s\\p{Z}]+', ' '))), '')
{%- endmacro %}
