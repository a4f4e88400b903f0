{#
  One row per key with its most common value (ties: the smallest value), from a relation or CTE.
  Used for an actor's type: the one most of its mentions carry.
#}
{% macro most_common(relation, key, value) %}
    select {{ key }}, first({{ value }} order by n desc, {{ value }}) as {{ value }}
    from (select {{ key }}, {{ value }}, count(*) as n from {{ relation }} group by all)
    group by {{ key }}
{% endmacro %}
