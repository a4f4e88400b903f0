{#
  One row per actor_id of a relation or CTE of resolved mentions (columns actor_id, raw_actor_id,
  actor, actor_type): the actor's type and display name, as the actors model shows them.

  Both are read from the actor's *own* mentions first (those whose raw_actor_id is the actor,
  i.e. the ids the NLP stage gave it, not names resolved onto it): the type most of them carry,
  and for the name, a written form of its own mentions (a person's full, multi-word form first),
  the one most of them carry. Mentions resolved onto the actor only break ties, or
  decide for an actor with no mentions of its own. Counting own mentions first is what lets
  actor_resolution merge actors that would show the same name: merging others onto an actor
  does not change its own mentions, hence not its name (ties aside).
#}
{% macro actor_display(mentions) %}
    with display_counts as (
        select actor_id, actor, actor_type,
               count(*) filter (where raw_actor_id = actor_id) as n_own, count(*) as n
        from {{ mentions }}
        group by all
    ),

    display_types as (
        select actor_id, first(actor_type order by n_own desc, n desc, actor_type) as actor_type
        from (select actor_id, actor_type, sum(n_own) as n_own, sum(n) as n from display_counts group by all)
        group by actor_id
    )

    select
        actor_id,
        first(actor order by n_own > 0 desc, (t.actor_type = 'person' and actor like '% %') desc, n_own desc, n desc, actor)
            as name,
        t.actor_type
    from (select actor_id, actor, sum(n_own) as n_own, sum(n) as n from display_counts group by all)
    join display_types as t using (actor_id)
    group by actor_id, t.actor_type
{% endmacro %}
