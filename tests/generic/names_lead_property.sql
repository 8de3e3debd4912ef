{#-
    Fails with every rule whose property is not a column of the loaded leads (nor email_domain): a rule on a
    column an export lacks would never fire, so the build stops and names the rule.
-#}
{% test names_lead_property(model, column_name) %}

select *
from {{ model }}
where
    lower({{ column_name }}) not in (
        {%- for name in lead_property_names() %}'{{ name | replace("'", "''") }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    )

{% endtest %}
