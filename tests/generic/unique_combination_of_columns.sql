{#-
    Fails with one row per combination of the columns that appears more than once, with its occurrences.
    Dispatched per engine (macros/cross_database/test_unique_combination_of_columns.sql): DuckDB groups a 64-bit hash of the
    combination first, so the test fits the profile's memory limit on the largest tables.
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'leadscore')(model, combination_of_columns)) }}
{% endtest %}
