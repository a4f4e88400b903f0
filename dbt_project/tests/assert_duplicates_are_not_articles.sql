-- A copy linked in article_duplicates is never an article of its own: marts count each story once.
select d.duplicate_id, d.article_id, d.duplicate_of, d.kind
from {{ source('newsdesk', 'article_duplicates') }} as d
join {{ source('newsdesk', 'articles') }} as a on a.article_id = d.article_id
where d.article_id != d.duplicate_of
