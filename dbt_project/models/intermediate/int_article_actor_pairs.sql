{{ config(materialized='incremental', incremental_strategy='append') }}
-- Pairs of actors named in the same article, by the ids the NLP stage gave them (raw ids
-- never change; corpus-level resolution is applied on top, in co_mentions). The article-by-
-- article self-join is the costly part of co_mentions, so it is done once per article, on
-- the night the article arrives, and kept.
with named as (
    select distinct m.article_id, n.batch_id, m.actor_id
    from {{ source('newsdesk', 'entity_mentions') }} as m
    join ({{ unprocessed_articles() }}) as n using (article_id)
    where m.actor is not null
)

select a.article_id, a.batch_id, a.actor_id as raw_actor_a_id, b.actor_id as raw_actor_b_id
from named as a
join named as b on a.article_id = b.article_id and a.actor_id < b.actor_id
