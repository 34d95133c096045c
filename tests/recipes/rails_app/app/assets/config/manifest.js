//= link_tree ../images
//= link application.css
