/// A small line chart as inline SVG: no scripts, no external files, so a
/// dashboard or report stays one self-contained page.
public struct LineChart: Sendable {
    /// One named line of (x, y) points.
    public struct Series: Sendable {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]

        public init(name: String, color: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 640.0
    public var height = 260.0
    /// Fixed y range; nil fits the data.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [Series], yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yRange = yRange
    }

    /// The chart as an `<svg>` element.
    public func svg() -> String {
        let left = 56.0, right = 16.0, top = 28.0, bottom = 40.0
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let allPoints = series.flatMap(\.points)
        let xs = allPoints.map(\.x), ys = allPoints.map(\.y)
        let xMin = xs.min() ?? 0, xMax = max(xs.max() ?? 1, xMin + 1)
        var yLow = yRange?.lowerBound ?? (ys.min() ?? 0)
        var yHigh = yRange?.upperBound ?? (ys.max() ?? 1)
        if yHigh - yLow < 1e-9 { yLow -= 1; yHigh += 1 }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - yLow) / (yHigh - yLow)) * plotHeight }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        out += "<text x=\"\(Int(left))\" y=\"18\" font-size=\"14\" font-weight=\"bold\">\(HTML.escape(title))</text>"
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#999\"/>"
        for tick in 0...4 {
            let value = yLow + (yHigh - yLow) * Double(tick) / 4
            let y = py(value)
            out += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(y))\" y2=\"\(f(y))\" stroke=\"#eee\"/>"
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" font-size=\"11\" text-anchor=\"end\">\(label(value))</text>"
        }
        let xTicks = min(6, Int(xMax - xMin))
        for tick in 0...max(xTicks, 1) {
            let value = xMin + (xMax - xMin) * Double(tick) / Double(max(xTicks, 1))
            out += "<text x=\"\(f(px(value)))\" y=\"\(f(top + plotHeight + 16))\" font-size=\"11\" text-anchor=\"middle\">\(label(value))</text>"
        }
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 4))\" font-size=\"12\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>"
        out += "<text transform=\"translate(14 \(f(top + plotHeight / 2))) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>"
        for (position, line) in series.enumerated() {
            let path = line.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            if line.points.count > 1 {
                out += "<polyline fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" points=\"\(path)\"/>"
            }
            for point in line.points {
                out += "<circle cx=\"\(f(px(point.x)))\" cy=\"\(f(py(point.y)))\" r=\"3\" fill=\"\(line.color)\"/>"
            }
            // Legend entries in rows across the plot, as many per row as fit.
            let perRow = max(1, Int((plotWidth - 8) / 120))
            let legendX = left + 8 + Double(position % perRow) * 120
            let legendY = top + 6 + Double(position / perRow) * 14
            out += "<rect x=\"\(f(legendX))\" y=\"\(f(legendY))\" width=\"10\" height=\"10\" fill=\"\(line.color)\"/>"
            out += "<text x=\"\(f(legendX + 14))\" y=\"\(f(legendY + 9))\" font-size=\"11\">\(HTML.escape(line.name))</text>"
        }
        return out + "</svg>"
    }

    private func f(_ value: Double) -> String { String(Double((value * 10).rounded() / 10)) }

    private func label(_ value: Double) -> String {
        abs(value - value.rounded()) < 1e-6 ? String(Int(value.rounded())) : String(Double((value * 100).rounded() / 100))
    }
}

/// HTML text escaping.
public enum HTML {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
