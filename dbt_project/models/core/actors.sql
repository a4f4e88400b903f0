-- One row per corpus-wide actor (the actor_id the NLP stage assigns across articles, after
-- corpus-level resolution). Its type is the one most of its own mentions carry (those the NLP
-- stage already gave this actor id), the one most mentions carry only where it has none: a
-- short form resolved onto a long name ("UKIP" onto "UK Independence Party") is the form the
-- model mistypes, the long one it reads well, and 78 "UKIP" tagged as a place must not make
-- the party a place. Its name is, for a person, the most frequent full (multi-word) written
-- form of the actor's own mentions (not of names resolved onto it), so "Donald Trump" even
-- where an article only says "Trump" or "Donald J. Trump"; for an organisation or place, its
-- most frequent written form (both in macros/actor_display.sql, which actor_resolution uses
-- too, to merge actors that would show the same name and type). Its
-- gender is what the articles' own pronouns and honorifics say (pipeline.gender): male or
-- female when the articles with evidence agree at least two to one, else NULL (unknown).
-- All recomputed from the detail rows on every build: no mutable state lives outside
-- entity_mentions.
with mentions as (
    select m.actor_id, m.raw_actor_id, m.actor, m.actor_type, m.is_outlet, m.gender, m.article_id, a.seen_at
    from {{ ref('stg_entity_mentions') }} as m
    join {{ ref('stg_articles') }} as a using (article_id)
),

display as (  -- type and display name (macros/actor_display.sql)
    {{ actor_display('mentions') }}
),

genders as (
    select
        actor_id,
        case
            when male > 2 * female then 'male'
            when female > 2 * male then 'female'
        end as gender
    from (
        select
            actor_id,
            count(distinct article_id) filter (where gender = 'male') as male,
            count(distinct article_id) filter (where gender = 'female') as female
        from mentions
        group by actor_id
    )
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

select
    s.actor_id, n.name, n.actor_type, s.is_outlet, s.mentions, s.articles, s.first_seen, s.last_seen,
    case when n.actor_type = 'person' then g.gender end as gender
from stats as s
join display as n using (actor_id)
join genders as g using (actor_id)
