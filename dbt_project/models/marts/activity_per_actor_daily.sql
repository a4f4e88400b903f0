-- Mentions and quotations of each actor per outlet and UTC day: the time series behind
-- "top actors over time" and every "this week" / "per outlet" question. An actor appears on a
-- day when it is mentioned or quoted; the day is that of seen_at (published, else ingested).
-- Actors are corpus-wide (actor_id), named as in the actors model.
with articles as (
    select article_id, outlet, cast(timezone('UTC', seen_at) as date) as day
    from {{ ref('stg_articles') }}
),

mentions as (
    select a.day, a.outlet, m.actor_id, count(*) as mentions, count(distinct m.article_id) as articles_mentioning
    from {{ ref('stg_entity_mentions') }} as m
    join articles as a using (article_id)
    group by all
),

quotes as (
    select a.day, a.outlet, q.speaker_id as actor_id, count(*) as quotes,
           count(distinct q.article_id) as articles_quoting
    from {{ ref('stg_quotes') }} as q
    join articles as a using (article_id)
    where q.speaker_id is not null
    group by all
)

select
    day,
    outlet,
    actor_id,
    t.name as actor,
    t.actor_type,
    coalesce(m.mentions, 0) as mentions,
    coalesce(m.articles_mentioning, 0) as articles_mentioning,
    coalesce(q.quotes, 0) as quotes,
    coalesce(q.articles_quoting, 0) as articles_quoting
from mentions as m
full outer join quotes as q using (day, outlet, actor_id)
join {{ ref('actors') }} as t using (actor_id)
