-- One row per corpus-wide actor (the actor_id the NLP stage assigns across articles, after
-- corpus-level resolution). Its name is the most frequent full (multi-word) written form of
-- the actor's own mentions (not of names resolved onto it), so "Donald Trump" even where an
-- article only says "Trump" or "Donald J. Trump"; its type is the one most mentions carry. Both are recomputed from the detail rows on every build: no mutable
-- state lives outside entity_mentions.
with mentions as (
    select m.actor_id, m.raw_actor_id, m.actor, m.actor_type, m.is_outlet, m.article_id, a.seen_at
    from {{ ref('stg_entity_mentions') }} as m
    join {{ ref('stg_articles') }} as a using (article_id)
),

best_name as (
    select actor_id, first(actor order by own desc, (actor like '% %') desc, n desc, actor) as name
    from (select actor_id, actor, bool_or(raw_actor_id = actor_id) as own, count(*) as n from mentions group by all)
    group by actor_id
),

best_type as (
    {{ most_common('mentions', 'actor_id', 'actor_type') }}
),

stats as (
    select
        actor_id,
        bool_or(coalesce(is_outlet, false)) as is_outlet,
        count(*) as mentions,
        count(distinct article_id) as articles,
        min(seen_at) as first_seen,
        max(seen_at) as last_seen
    from mentions
    group by actor_id
)

select s.actor_id, n.name, t.actor_type, s.is_outlet, s.mentions, s.articles, s.first_seen, s.last_seen
from stats as s
join best_name as n using (actor_id)
join best_type as t using (actor_id)
