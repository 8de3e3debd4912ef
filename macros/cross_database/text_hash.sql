{#- A 64-bit hash of a text expression, per engine: grouping it instead of the text keeps a hash table of
    hundreds of millions of keys within the profile's memory. Equal texts hash equally; a rare collision of
    different texts must be told apart by the caller (compare the texts themselves afterwards). -#}
{% macro text_hash(expression) -%}
    {{ return(adapter.dispatch('text_hash', 'leadscore')(expression)) }}
{%- endmacro %}

{% macro default__text_hash(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro postgres__text_hash(expression) -%}
    hashtextextended({{ expression }}, 0)
{%- endmacro %}

{% macro spark__text_hash(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}
