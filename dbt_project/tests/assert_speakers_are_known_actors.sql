-- A quotation's speaker must be an actor mentioned in the same article.
select q.quote_id, q.speaker
from {{ source('newsdesk', 'quotes') }} as q
where q.speaker is not null
  and not exists (
      select 1 from {{ source('newsdesk', 'entity_mentions') }} as m
      where m.article_id = q.article_id and m.actor = q.speaker
  )
