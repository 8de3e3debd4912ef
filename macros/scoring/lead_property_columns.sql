{#-
    The columns of the raw leads table that are lead properties, as the table has them now: every column of the
    loaded file (extra columns of an export included) except the lead id, the email address (personal data: its
    domain is the derived property email_domain, which a column of that name cannot shadow), the two dates and the loader's lineage columns. Read from the
    warehouse when dbt executes; empty while dbt parses (the list only shapes SQL, never a dependency).
-#}
{% macro lead_property_columns() -%}
    {%- set relation = source('raw', 'leads') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set excluded = ['lead_id', 'email', 'email_domain', 'created_at', 'converted_at', '_source_file', '_source_line', '_loaded_at'] -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in excluded -%}
            {%- do names.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- The names a rule of lead_property_rules may give as its property (lower case). -#}
{% macro lead_property_names() -%}
    {%- set names = ['email_domain'] -%}
    {%- for name in lead_property_columns() -%}
        {%- do names.append(name | lower) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
