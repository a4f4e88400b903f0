-- Mentions and quotations of each actor per outlet and UTC day: the time series behind
-- "top actors over time" and every "this week" / "per outlet" question. An actor appears on a
-- day when it is mentioned or quoted; the day is that of seen_at (published, else ingested).
with articles as (
    select article_id, outlet, cast(timezone('UTC', seen_at) as date) as day
    from {{ ref('stg_articles') }}
),

mentions as (
    select a.day, a.outlet, m.actor, count(*) as mentions, count(distinct m.article_id) as articles_mentioning
    from {{ ref('stg_entity_mentions') }} as m
    join articles as a using (article_id)
    group by all
),

quotes as (
    select a.day, a.outlet, q.speaker as actor, count(*) as quotes, count(distinct q.article_id) as articles_quoting
    from {{ ref('stg_quotes') }} as q
    join articles as a using (article_id)
    where q.speaker is not null
    group by all
)

select
    day,
    outlet,
    actor,
    t.actor_type,
    coalesce(m.mentions, 0) as mentions,
    coalesce(m.articles_mentioning, 0) as articles_mentioning,
    coalesce(q.quotes, 0) as quotes,
    coalesce(q.articles_quoting, 0) as articles_quoting
from mentions as m
full outer join quotes as q using (day, outlet, actor)
join {{ ref('mentions_per_actor') }} as t using (actor)
