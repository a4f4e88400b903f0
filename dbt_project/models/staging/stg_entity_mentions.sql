-- Mentions that resolved to an actor (people, organisations, places), with the actor id
-- after corpus-level resolution (see actor_resolution); the id the NLP stage assigned is
-- kept as raw_actor_id.
select
    m.article_id,
    mention_id,
    sentence_id,
    "start",
    "end",
    text as mention_text,
    label,
    actor,
    actor_type,
    r.actor_id,
    m.actor_id as raw_actor_id,
    ner_label,
    is_outlet,
    gender
from {{ source('newsdesk', 'entity_mentions') }} as m
join {{ ref('actor_resolution') }} as r on r.raw_actor_id = m.actor_id
where m.actor is not null
  and m.article_id in (select article_id from {{ ref('stg_articles') }})  -- live articles only
