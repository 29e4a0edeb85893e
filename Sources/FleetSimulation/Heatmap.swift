import Coordinator

/// A grid of numbers as an inline SVG heatmap: one row per label, one
/// column per label, each cell shaded by its share of the row's largest
/// value (or of the whole grid's), its number written in it.
struct Heatmap: Sendable {
    var title: String
    var rows: [String]
    var columns: [String]
    /// `values[row][column]`.
    var values: [[Double]]
    /// Shade each row against its own maximum (shares within a row) instead of the grid's.
    var perRow = false
    var format: @Sendable (Double) -> String = { String(Int($0.rounded())) }

    func svg() -> String {
        let cellWidth = 64.0, cellHeight = 24.0, left = 110.0, top = 92.0
        // Room on the right for the last column's slanted label.
        let width = left + Double(columns.count) * cellWidth + 80
        let height = top + Double(rows.count) * cellHeight + 12
        let gridMax = values.flatMap { $0 }.max() ?? 0
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        out += "<text x=\"4\" y=\"18\" font-size=\"14\" font-weight=\"bold\">\(HTML.escape(title))</text>"
        for (column, name) in columns.enumerated() {
            let x = left + (Double(column) + 0.5) * cellWidth
            out += "<text transform=\"translate(\(x) \(top - 6)) rotate(-40)\" font-size=\"11\">\(HTML.escape(name))</text>"
        }
        for (row, name) in rows.enumerated() {
            let y = top + Double(row) * cellHeight
            out += "<text x=\"\(left - 6)\" y=\"\(y + 16)\" font-size=\"11\" text-anchor=\"end\">\(HTML.escape(name))</text>"
            let scale = perRow ? (values[row].max() ?? 0) : gridMax
            for column in columns.indices {
                let value = values[row][column]
                let share = scale > 0 ? value / scale : 0
                // White to a deep blue; the text turns white on dark cells.
                let shade = Int(255 - share * 190)
                out += "<rect x=\"\(left + Double(column) * cellWidth)\" y=\"\(y)\" width=\"\(cellWidth - 2)\" height=\"\(cellHeight - 2)\" fill=\"rgb(\(shade),\(shade + Int(share * 30)),255)\"/>"
                out += "<text x=\"\(left + (Double(column) + 0.5) * cellWidth)\" y=\"\(y + 16)\" font-size=\"11\" text-anchor=\"middle\" fill=\"\(share > 0.6 ? "#fff" : "#222")\">\(format(value))</text>"
            }
        }
        return out + "</svg>"
    }
}
