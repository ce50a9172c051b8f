package staffpage

import (
	"net/url"
	"strconv"
)

// PageSize is how many rows a list (the register, the inbox) shows a page.
const PageSize = 50

// Pagination is the NHS.UK numbered pagination for a list (the
// "pagination" template).
type Pagination struct {
	Page, Pages int
	Prev, Next  string
	Items       []PageLink
}

// PageLink is one page's number in the pagination.
type PageLink struct {
	Number  int
	Href    string
	Current bool
}

// PageNumber is the page a list's query asks for, from 1.
func PageNumber(q url.Values) (int, error) {
	s := q.Get("page")
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100000 {
		return 0, BadRequest{"page", "must be a page number from 1"}
	}
	return n, nil
}

// Paginate links the pages of a list of total items at u, page being shown.
func Paginate(u *url.URL, page, total int) Pagination {
	pages := max(1, (total+PageSize-1)/PageSize)
	href := func(n int) string {
		q := u.Query()
		q.Set("page", strconv.Itoa(n))
		return u.Path + "?" + q.Encode()
	}
	p := Pagination{Page: page, Pages: pages}
	if page > 1 {
		p.Prev = href(page - 1)
	}
	if page < pages {
		p.Next = href(page + 1)
	}
	// First, last and two either side of this page.
	for n := 1; n <= pages; n++ {
		if n == 1 || n == pages || (n >= page-2 && n <= page+2) {
			p.Items = append(p.Items, PageLink{Number: n, Href: href(n), Current: n == page})
		}
	}
	return p
}
