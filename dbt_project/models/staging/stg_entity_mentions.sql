-- Mentions that resolved to an actor (people, organisations, places).
select
    article_id,
    mention_id,
    sentence_id,
    "start",
    "end",
    text as mention_text,
    label,
    actor,
    actor_type,
    actor_id,
    ner_label,
    is_outlet
from {{ source('newsdesk', 'entity_mentions') }}
where actor is not null
