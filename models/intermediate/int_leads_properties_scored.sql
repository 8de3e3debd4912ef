-- One row per scored lead and property rule that fired (lead_property_rules), with the dimension its points
-- count in. Rules are matched once per distinct folded value of a property (a million leads have a few
-- thousand job titles), then joined back to the leads: for each value and dimension the matching rule with the
-- lowest match_priority fires (ties: rule_key), else the dimension's `otherwise` rule.
-- Patched at an unchanged as-of date: only the leads of int_leads_changed are rescored (their rows deleted,
-- then appended); any other build rebuilds it in full (see incremental_state_is_current).
{{ lead_patched_config() }}
-- depends_on: {{ ref('int_leads_changed') }}
with

leads as (

    select * from {{ ref('int_leads_scoped') }}
    where {{ changed_leads_filter('lead_id') }}

),

rules as (

    select
        rule_key,
        lower(trim(property)) as property_name,
        match_kind,
        {{ property_value_folded('match_values') }} as folded_values,
        replace(replace({{ property_value_folded('match_values') }}, ' |', '|'), '| ', '|') as value_list,
        match_values as pattern,
        min_value,
        max_value,
        match_priority,
        dimension as dimension_key,
        points
    from {{ ref('lead_property_rules') }}

),

properties as (

    -- country_code is the code validation made of it (a name of seed country_names becomes its code).
    select
        leads.lead_id,
        properties.property_name,
        case
            when properties.property_name = 'country_code' then leads.country_code else properties.property_value
        end as property_value,
        coalesce(
            case
                when properties.property_name = 'country_code' then lower(leads.country_code)
                else properties.folded_value
            end,
            ''
        ) as value_key
    from {{ ref('stg_raw__lead_properties') }} as properties
    inner join leads
        on
            properties.lead_id = leads.lead_id
            and properties.source_file = leads.source_file
            and properties.source_line = leads.source_line
            and properties.loaded_at = leads.loaded_at
    where properties.property_name in (select rules.property_name from rules)

),

property_values as (

    select distinct
        property_name,
        value_key,
        nullif(value_key, '') as folded_value,
        {{ try_cast_value("nullif(value_key, '')", 'decimal(28, 8)') }} as number_value
    from properties

),

matches as (

    select
        property_values.property_name,
        property_values.value_key,
        rules.dimension_key,
        rules.rule_key,
        rules.points,
        row_number() over (
            partition by property_values.property_name, property_values.value_key, rules.dimension_key
            order by coalesce(rules.match_priority, 2147483647), rules.rule_key
        ) as match_rank
    from property_values
    inner join rules on property_values.property_name = rules.property_name
    where
        (rules.match_kind = 'blank' and property_values.folded_value is null)
        or (
            rules.match_kind = 'equals'
            and (
                property_values.folded_value = rules.folded_values
                or property_values.number_value = {{ try_cast_value('rules.folded_values', 'decimal(28, 8)') }}
            )
        )
        or (
            rules.match_kind = 'in_list'
            and {{ dbt.position(
                "'|' || property_values.folded_value || '|'", "'|' || rules.value_list || '|'"
            ) }} > 0
        )
        or (rules.match_kind = 'pattern' and {{ regexp_found('property_values.folded_value', 'rules.pattern') }})
        or (
            rules.match_kind = 'range'
            and property_values.number_value is not null
            and {{ in_band('property_values.number_value', 'rules.min_value', 'rules.max_value') }}
        )

),

otherwise as (

    select
        property_values.property_name,
        property_values.value_key,
        rules.dimension_key,
        rules.rule_key,
        rules.points
    from property_values
    inner join rules
        on property_values.property_name = rules.property_name and rules.match_kind = 'otherwise'
    left join matches
        on
            property_values.property_name = matches.property_name
            and property_values.value_key = matches.value_key
            and rules.dimension_key = matches.dimension_key
    where matches.rule_key is null

),

fired as (

    {%- set fired_columns = ['property_name', 'value_key', 'dimension_key', 'rule_key', 'points'] %}
    select
        {{ fired_columns | join(',\n        ') }}
    from matches
    where match_rank = 1
    union all
    select
        {{ fired_columns | join(',\n        ') }}
    from otherwise

),

final as (

    select
        properties.lead_id,
        fired.dimension_key,
        fired.property_name,
        fired.rule_key,
        coalesce(properties.property_value, '(empty)') as matched_value,
        fired.points,
        '{{ build_parameter("build_id", "adhoc") }}' as build_id
    from properties
    inner join fired
        on properties.property_name = fired.property_name and properties.value_key = fired.value_key

)

select * from final
