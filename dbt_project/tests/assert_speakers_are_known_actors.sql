-- A quotation's speaker must be an actor mentioned in the same article, and carry that
-- actor's corpus-wide id.
select q.quote_id, q.speaker, q.speaker_id
from {{ source('newsdesk', 'quotes') }} as q
where q.speaker is not null
  and (q.speaker_id is null or not exists (
      select 1 from {{ source('newsdesk', 'entity_mentions') }} as m
      where m.article_id = q.article_id and m.actor = q.speaker and m.actor_id = q.speaker_id
  ))
