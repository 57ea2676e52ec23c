using System.Text;

namespace KataWorkflows.Cli.Output;

/// <summary>A plain-text table: upper-case headers, columns padded to their widest cell, two spaces apart.</summary>
public sealed class Table
{
    private readonly string[] _headers;
    private readonly List<string[]> _rows = [];

    /// <summary>Creates a table with these column headers.</summary>
    public Table(params string[] headers)
    {
        ArgumentNullException.ThrowIfNull(headers);
        _headers = headers;
    }

    /// <summary>The number of rows.</summary>
    public int Count => _rows.Count;

    /// <summary>Adds a row; missing cells are empty, null cells print as <c>-</c>.</summary>
    /// <exception cref="ArgumentException">More cells than columns.</exception>
    public Table Add(params string?[] cells)
    {
        ArgumentNullException.ThrowIfNull(cells);
        if (cells.Length > _headers.Length)
        {
            throw new ArgumentException($"The row has {cells.Length} cells; the table has {_headers.Length} columns.", nameof(cells));
        }

        var row = new string[_headers.Length];
        for (var i = 0; i < row.Length; i++)
        {
            row[i] = i < cells.Length ? Clean(cells[i] ?? "-") : string.Empty;
        }

        _rows.Add(row);
        return this;
    }

    /// <summary>The table as text, one line per row, each ending with a newline; the last column is not padded.</summary>
    public override string ToString()
    {
        var widths = new int[_headers.Length];
        for (var i = 0; i < widths.Length; i++)
        {
            widths[i] = Math.Max(_headers[i].Length, _rows.Count == 0 ? 0 : _rows.Max(r => r[i].Length));
        }

        var text = new StringBuilder();
        Line(text, _headers.Select(h => h.ToUpperInvariant()).ToArray(), widths);
        foreach (var row in _rows)
        {
            Line(text, row, widths);
        }

        return text.ToString();
    }

    private static void Line(StringBuilder text, string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                line.Append("  ");
            }

            line.Append(i == cells.Length - 1 ? cells[i] : cells[i].PadRight(widths[i]));
        }

        text.Append(line.ToString().TrimEnd()).Append('\n');
    }

    // A cell is one line: a multi-line message would break the columns.
    private static string Clean(string cell) => cell.ReplaceLineEndings(" ").Replace('\t', ' ');
}
