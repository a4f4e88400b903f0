-- One row per article, with the columns marts group and filter by.
select
    article_id,
    batch_id,
    url,
    coalesce(outlet, '(unknown outlet)') as outlet,
    published_at,
    author,
    language,
    coalesce(published_at, ingested_at) as seen_at,
    title,
    n_chars,
    ingested_at
from {{ source('newsdesk', 'articles') }}
