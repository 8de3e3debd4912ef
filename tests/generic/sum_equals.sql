{#- Fails (one row, with the actual sum) when the column's sum over the rows matching `where` is not `expected`. -#}
{% test sum_equals(model, column_name, expected, where_clause='1 = 1') %}

select sum({{ column_name }}) as actual_sum
from {{ model }}
where {{ where_clause }}
having sum({{ column_name }}) <> {{ expected }} or sum({{ column_name }}) is null

{% endtest %}
