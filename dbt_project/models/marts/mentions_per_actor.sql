-- How often each actor is mentioned, in how many articles, and when first and last seen.
-- An actor's type is the one most of its mentions carry (ties broken by name), so one
-- actor is one row even when a tagger disagreed with itself in a few articles.
with mentions as (
    select m.actor, m.actor_type, m.article_id, a.seen_at
    from {{ ref('stg_entity_mentions') }} as m
    join {{ ref('stg_articles') }} as a using (article_id)
),

type_votes as (
    select actor, actor_type, count(*) as n
    from mentions
    group by all
),

actor_types as (
    select actor, first(actor_type order by n desc, actor_type) as actor_type
    from type_votes
    group by actor
)

select
    m.actor,
    t.actor_type,
    count(*) as mentions,
    count(distinct m.article_id) as articles,
    min(m.seen_at) as first_seen,
    max(m.seen_at) as last_seen
from mentions as m
join actor_types as t using (actor)
group by m.actor, t.actor_type
