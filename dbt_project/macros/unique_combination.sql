{#- Generic test: no two rows share the same values in all of `columns`
    (dbt_utils has one, but the project installs no dbt packages: nothing is fetched at run time). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
