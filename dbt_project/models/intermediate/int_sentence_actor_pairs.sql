{{ config(materialized='incremental', incremental_strategy='append') }}
-- Pairs of actors named in the same sentence (raw ids, as int_article_actor_pairs): the
-- tighter link co_mentions counts as "sentences". Built once per article, when it arrives.
with named as (
    select distinct m.article_id, n.batch_id, m.sentence_id, m.actor_id
    from {{ source('newsdesk', 'entity_mentions') }} as m
    join ({{ unprocessed_articles() }}) as n using (article_id)
    where m.actor is not null
)

select
    a.article_id, a.batch_id, a.sentence_id, a.actor_id as raw_actor_a_id, b.actor_id as raw_actor_b_id
from named as a
join named as b
    on a.article_id = b.article_id and a.sentence_id = b.sentence_id and a.actor_id < b.actor_id
